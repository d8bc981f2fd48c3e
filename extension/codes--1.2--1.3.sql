/* extension/codes--1.2--1.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION codes UPDATE TO '1.3'" to load this file. \quit

--
-- 1.3: promo codes as shops run them: multi-use codes whose cost stays flat
-- in their past uses and whose customers do not queue behind each other;
-- hardening; codes a merchant chooses and controls one by one; holds,
-- references and refunds.
--
