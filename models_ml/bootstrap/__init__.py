"""First-run set-up and dataset imports from the site: import the published data, train and activate the
scorer, build the practice partners' retrieval indexes, each as a job (docs/bootstrap.md)."""
