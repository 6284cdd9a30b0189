-- The role FinFlow's services connect as: not a superuser (row-level security applies), owner of its database (its
-- migrations create one schema per service).
CREATE ROLE finflow LOGIN PASSWORD 'finflow';
CREATE DATABASE finflow OWNER finflow;
-- What each statement costs, for the performance service's advisor (the server loads the module at start:
-- shared_preload_libraries = 'pg_stat_statements'); the role may read every role's statistics, not only its own.
\c finflow
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
GRANT pg_read_all_stats TO finflow;
