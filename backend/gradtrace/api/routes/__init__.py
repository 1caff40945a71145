"""HTTP routes of the API v1, one module per resource."""
