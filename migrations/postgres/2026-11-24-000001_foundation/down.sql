DROP TABLE instance_settings; DROP TABLE audit_log; DROP TABLE sessions; DROP TABLE users; DROP TABLE organizations;
