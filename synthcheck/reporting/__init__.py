"""Case reports: build the report dict (:mod:`.build`), render it as HTML (:mod:`.html`) and
PDF (:mod:`.pdf`), sign and verify it (:mod:`.signing`), and write the signed bundle
(:mod:`.bundle`). Imports run one way: bundle -> html/pdf -> build; signing imports no renderer.
"""
