"""Alignment engine (layer 2, uses models): the ELBO-DPO trainer, AR teacher DPO (trl), AR-MAP task
vectors and merge, gamma selection by reward accuracy, estimator-variance diagnostics."""
