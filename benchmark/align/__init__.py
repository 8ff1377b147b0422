"""Alignment engines: ELBO estimators for DLLMs, the ELBO-DPO trainer, AR teacher DPO, AR-MAP transfer."""
