"""Doses as values: a dose (:mod:`.dose`), regimens (:mod:`.regimen`, held as columns by
:mod:`.columns`, combined and changed by :mod:`.composition`), regimens written as text
(:mod:`.text`, its words read by :mod:`.words`), the drugs' label regimen libraries
(:mod:`.library`), NONMEM-style datasets (:mod:`.dataset`, :mod:`.records`), and :mod:`.events`,
the one home of the dosing rules (F, lag, rate/duration, reset, steady state) that turns doses
into engine events. Imports only the layers below: model, params, units, engine."""
