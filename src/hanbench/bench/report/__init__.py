"""Validation reports: one typed record (:mod:`.model`) built from a session record (:mod:`.build`),
rendered as JSON (:mod:`.json_form`), JUnit XML (:mod:`.junit`) and one self-contained HTML page
(:mod:`.html`), and written together (:mod:`.files`)."""
