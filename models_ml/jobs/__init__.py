"""The one job framework of the ML apps: job model, status, dispatch, claim / heartbeat / reap, model cache."""
