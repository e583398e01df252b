"""The contacts plugin gives only its collection (collections/contacts.toml): no hooks."""
