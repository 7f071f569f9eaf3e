CREATE TABLE IF NOT EXISTS example_account (
  tenant_id  text   NOT NULL,
  account_id text   NOT NULL,
  balance    bigint NOT NULL,
  version    bigint NOT NULL,
  PRIMARY KEY (tenant_id, account_id)
);
