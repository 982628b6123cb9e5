"""mlgate's command line, one of the two thin front ends over the headless `engine` (the other is `tui`).

`cli.main` holds the `mlgate` group, the audit command and the progress stream's format; `cli.trail`,
`cli.review`, `cli.champion` and `cli.author` hold the other commands; `cli.output` what they share. The engine
never imports this package, and this package reaches `tui` in one place only: `mlgate tui` starts it when asked
(the import-linter contracts in pyproject.toml hold both rules).
"""
