"""The ground every layer stands on: the plugin interface, registry, errors, hashing, row validation,
the result store, the cost meter and provenance. Imports nothing from the rest of the project."""
