"""The documentation site's build code: the figure script (`python -m docs.figures`) and the MkDocs hooks
(`docs/tools`) that generate the reference pages from the package."""
