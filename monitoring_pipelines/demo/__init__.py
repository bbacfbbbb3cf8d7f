"""A synthetic credit-risk deployment (training set, model, hourly logs, late labels) for demos."""
