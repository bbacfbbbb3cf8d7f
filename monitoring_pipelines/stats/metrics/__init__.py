"""Drift metrics: one module per metric, each comparing a baseline and a production column profile.

``registry.METRICS`` lists them; ``monitoring_pipelines.stats.drift`` applies thresholds.
"""
