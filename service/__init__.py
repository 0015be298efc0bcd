"""medcodes service layer: search engine, Similar Codes, API, FHIR, web pages and CLI."""
