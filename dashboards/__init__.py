"""Plotly dashboards for leaders, built only from the published Parquet files."""
