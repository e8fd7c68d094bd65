"""What a drug's files say about patients: who the patient is (:mod:`.patient`, its covariates'
words and checks in :mod:`.covariates`), the drug's population factors (:mod:`.populations`), the
renal equations (:mod:`.renal`), how renal and hepatic function scale clearance
(:mod:`.clearance`), and the label's rules and warnings (:mod:`.label`). Every number comes from
the drug's population file in ``params/``; no drug is named in code."""
