-- The day the daily follow-up (reminders and overdue notices) first ran for the school. Until
-- it has, overdue meetings and reviews found are old news: each person gets them in one
-- summary rather than an email each.
ALTER TABLE schools ADD COLUMN follow_ups_since DATE;
