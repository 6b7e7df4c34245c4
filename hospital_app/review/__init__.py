"""/review: a reviewer's (or an administrator's) check of one region's day, its sign-off, and
reopening one hospital's signed-off report."""
