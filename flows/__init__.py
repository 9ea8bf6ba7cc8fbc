"""Ready-to-deploy flows built on ``prefect_jsoc.flows`` (see ``deployments/prefect.yaml``)."""
