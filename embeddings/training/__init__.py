"""Domain adaptation of the sentence model on pairs drawn from the ICD-10 tables themselves."""
