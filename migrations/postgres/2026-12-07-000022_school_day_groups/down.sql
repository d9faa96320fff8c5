DROP TABLE school_day_groups;
