"""Real-Airflow end-to-end suite (a package, so its one Airflow deployment is package-scoped)."""
