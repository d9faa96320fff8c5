DROP INDEX staff_school_name;
DROP INDEX suggestions_school_created;
DROP INDEX meetings_school_due;
DROP INDEX pupils_school_names;
