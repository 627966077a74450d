"""Read-side queries: selects built for list pages, dashboards and exports."""
