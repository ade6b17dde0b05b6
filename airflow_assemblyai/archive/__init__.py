"""The archive library: streams a transcript's redacted record into a store and proves it is whole."""
