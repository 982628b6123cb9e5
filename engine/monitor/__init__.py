"""Monitoring after approval: the champion's ONNX artifact scores new batches, which are compared with the
training reference recorded at audit time (drift, schema, missing values, prediction drift) and, when labels
arrive, with the approval's figures; a critical condition that fails lapses the approval in the trail.

`reference` builds the reference at audit time and bins a batch the same way; `stats` holds the tests (PSI, KS,
chi-squared, the multiple-testing correction); `drift`, `schema` and `feedback` compute the monitoring evidence;
`conditions` checks it against a monitoring policy; `run` sequences one monitoring run and records it;
`history` reads the runs back as a time series per model.
"""
