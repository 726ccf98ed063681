# evaluate stage rules (being written; see the issue for this stage).
