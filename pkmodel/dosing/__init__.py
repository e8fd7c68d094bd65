"""Doses as values: regimens (:mod:`.regimen`), regimens written as text (:mod:`.text`), the
drug's label regimen library (:mod:`.library`), NONMEM-style datasets (:mod:`.dataset`), and
:mod:`.events`, the one home of the dosing rules (F, lag, rate/duration, reset, steady state)
that turns doses into engine events. Imports only the layers below: model, units, engine."""
