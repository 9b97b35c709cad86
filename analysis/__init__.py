"""Metric profile, collection, KPIs, comparison and statistics, thresholds and reports."""
