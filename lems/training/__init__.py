"""The TAC training lab: exercises graded against the journal, reports, the instructor's live
dashboard (terminal and web page)."""
