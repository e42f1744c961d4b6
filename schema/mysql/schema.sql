-- outage-sim checkout schema for MySQL/MariaDB (InnoDB), created in a database of its own.
-- Primary keys come with the tables (InnoDB stores rows in key order, and the bulk load
-- inserts in that order); secondary indexes are in indexes.sql, built after the load.
CREATE TABLE outage_sim_meta (
    `key`   VARCHAR(64)  PRIMARY KEY,
    `value` VARCHAR(255) NOT NULL
) ENGINE = InnoDB;

CREATE TABLE customers (
    id         BIGINT       PRIMARY KEY,
    email      VARCHAR(64)  NOT NULL,
    created_at BIGINT       NOT NULL  -- unix seconds
) ENGINE = InnoDB;

CREATE TABLE products (
    id          BIGINT      PRIMARY KEY,
    name        VARCHAR(64) NOT NULL,
    price_cents BIGINT      NOT NULL
) ENGINE = InnoDB;

CREATE TABLE inventory (
    product_id BIGINT PRIMARY KEY,
    stock      BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
) ENGINE = InnoDB;

CREATE TABLE orders (
    id          BIGINT      AUTO_INCREMENT PRIMARY KEY,
    customer_id BIGINT      NOT NULL,
    status      VARCHAR(16) NOT NULL,  -- pending, paid, shipped, delivered, cancelled
    total_cents BIGINT      NOT NULL,
    created_at  BIGINT      NOT NULL,  -- unix seconds
    updated_at  BIGINT      NOT NULL
) ENGINE = InnoDB;

CREATE TABLE order_items (
    id          BIGINT AUTO_INCREMENT PRIMARY KEY,
    order_id    BIGINT NOT NULL,
    product_id  BIGINT NOT NULL,
    qty         BIGINT NOT NULL,
    price_cents BIGINT NOT NULL
) ENGINE = InnoDB;

CREATE TABLE payments (
    id           BIGINT      AUTO_INCREMENT PRIMARY KEY,
    order_id     BIGINT      NOT NULL,
    amount_cents BIGINT      NOT NULL,
    status       VARCHAR(16) NOT NULL,
    created_at   BIGINT      NOT NULL
) ENGINE = InnoDB;
