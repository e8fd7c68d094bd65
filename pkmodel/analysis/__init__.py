"""Numbers about curves: calibration against published targets (:mod:`.fit`, reading
:mod:`.calibration_targets` and predicting with :mod:`.target_predictions`), fitting one subject's
data (:mod:`.estimate`), non-compartmental analysis (:mod:`.nca` and the modules it names) and dose
suggestions for special populations (:mod:`.suggest`)."""
