"""junheng (均衡): county compulsory-education quality-balance assessment.

Reads the annual school statistics, computes the Ministry of Education's resource
indicators and inter-school variation coefficients (差异系数) per county, and publishes
them as Parquet tables with a fixed contract.
"""

__version__ = "0.1.0"
