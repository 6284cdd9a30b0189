-- The role FinFlow's services connect as: not a superuser (row-level security applies), owner of its database (its
-- migrations create one schema per service).
CREATE ROLE finflow LOGIN PASSWORD 'finflow';
CREATE DATABASE finflow OWNER finflow;
