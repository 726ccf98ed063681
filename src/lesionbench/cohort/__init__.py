"""The cohort: case sheets, dataset importers (MS-SEG 2016, MSSEG-2, BIDS) and their layouts."""
