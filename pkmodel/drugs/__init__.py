"""What a drug's files say about patients: who the patient is (:mod:`.patients`), how renal and
hepatic function scale clearance, and the label's rules and warnings (:mod:`.label`). Every number
comes from the drug's population file in ``params/``; no drug is named in code."""
