"""`twin validate`: a go/no-go verdict on a change, with verified rollback and evidence."""
