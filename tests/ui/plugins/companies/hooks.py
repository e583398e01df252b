"""The companies plugin gives only its collection (collections/companies.toml): no hooks."""
