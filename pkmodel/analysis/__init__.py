"""Numbers about curves: calibration against published targets (:mod:`.fit`), non-compartmental
analysis (:mod:`.nca`) and dose suggestions for special populations (:mod:`.suggest`)."""
