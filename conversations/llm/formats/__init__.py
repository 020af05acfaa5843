"""Wire formats: how a request is written and how one parsed event becomes text, a finish or an error."""
