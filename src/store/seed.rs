//! The seeded order history for the server databases, generated in the client and streamed in
//! bulk (COPY on PostgreSQL, multi-row inserts on MySQL). Every value is a hash of the row's id
//! with the same formulas as the SQLite seed's SQL, so the three backends hold the same data.

use std::fmt::Write;

use crate::scenario::{DataSize, Scenario};

/// Stock every product starts with: checkouts never run out.
pub const STOCK: i64 = 1_000_000_000;

/// What the history looks like and where it ends; one value per prepared database.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub data: DataSize,
    pub seed: u64,
    /// The orders end at the scenario's start, so reports over "the last 15 minutes" find some.
    pub end_unix: i64,
}

impl History {
    /// The history a scenario's `[data]` section and seed describe, ending when its clock starts.
    pub fn of(scenario: &Scenario) -> History {
        History {
            data: scenario.data.clone(),
            seed: scenario.run.data_seed,
            end_unix: scenario.clock.midnight_unix() + i64::from(scenario.clock.start.secs()),
        }
    }

    /// Mixed into every hash, so another seed gives other data.
    pub(super) fn salt(&self) -> i64 {
        (self.seed % 1_000_003) as i64
    }

    /// Seconds of history.
    pub(super) fn span(&self) -> i64 {
        i64::from(self.data.history_days) * 86_400
    }

    pub fn start_unix(&self) -> i64 {
        self.end_unix - self.span()
    }

    /// A text that changes with everything that shapes the data: a prepared database whose
    /// fingerprint differs is seeded again.
    pub fn fingerprint(&self) -> String {
        let d = &self.data;
        format!(
            "orders={} customers={} products={} days={} seed={} end={}",
            d.orders, d.customers, d.products, d.history_days, self.seed, self.end_unix
        )
    }

    pub fn price(&self, product: i64) -> i64 {
        299 + (product * 7919 + self.salt()) % 19700
    }

    /// Order `n` (1-based) with its items as (product, qty, price_cents).
    pub fn order(&self, n: i64) -> Order {
        let (salt, orders, span, start) = (self.salt(), self.data.orders as i64, self.span(), self.start_unix());
        let items: Vec<(i64, i64, i64)> = (1..=1 + (n * 7 + salt) % 3)
            .map(|i| {
                let p = 1 + ((n * 3 + i) * 2_246_822_519 + salt) % self.data.products as i64;
                (p, 1 + (n + i) % 2, self.price(p))
            })
            .collect();
        let at = start + n * span / orders;
        let x = (n * 2_654_435_761 + salt) % 4_294_967_296;
        let status = if x % 20 == 0 {
            "cancelled"
        } else if at > start + span - 86_400 {
            "paid"
        } else if at > start + span - 4 * 86_400 {
            "shipped"
        } else {
            "delivered"
        };
        Order {
            id: n,
            customer_id: 1 + x % self.data.customers as i64,
            status,
            total_cents: items.iter().map(|(_, q, p)| q * p).sum(),
            created_at: at,
            items,
        }
    }
}

/// One seeded order.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub status: &'static str,
    pub total_cents: i64,
    pub created_at: i64,
    pub items: Vec<(i64, i64, i64)>,
}

impl Order {
    pub fn payment_status(&self) -> &'static str {
        if self.status == "cancelled" {
            "refunded"
        } else {
            "captured"
        }
    }
}

/// Rows of one table, written as text one row at a time by `row`, in `chunk`-row batches.
/// `sep` separates fields and `end` ends a row: tab and newline make PostgreSQL's COPY text,
/// `,` and `),(` make the tuples of a multi-row INSERT.
pub struct Rows {
    pub table: &'static str,
    pub columns: &'static str,
}

pub const CUSTOMERS: Rows = Rows {
    table: "customers",
    columns: "id, email, created_at",
};
pub const PRODUCTS: Rows = Rows {
    table: "products",
    columns: "id, name, price_cents",
};
pub const INVENTORY: Rows = Rows {
    table: "inventory",
    columns: "product_id, stock, updated_at",
};
pub const ORDERS: Rows = Rows {
    table: "orders",
    columns: "id, customer_id, status, total_cents, created_at, updated_at",
};
pub const ORDER_ITEMS: Rows = Rows {
    table: "order_items",
    columns: "id, order_id, product_id, qty, price_cents",
};
pub const PAYMENTS: Rows = Rows {
    table: "payments",
    columns: "id, order_id, amount_cents, status, created_at",
};

/// How a backend wants values written: `quote` wraps strings (COPY text needs none).
#[derive(Debug, Clone, Copy)]
pub struct Format {
    pub sep: &'static str,
    pub row_start: &'static str,
    pub row_end: &'static str,
    pub quote: &'static str,
}

pub const COPY_TEXT: Format = Format {
    sep: "\t",
    row_start: "",
    row_end: "\n",
    quote: "",
};
pub const SQL_TUPLES: Format = Format {
    sep: ",",
    row_start: "(",
    row_end: "),",
    quote: "'",
};

/// A text value (our generated strings hold no quotes, tabs or backslashes).
pub enum V<'a> {
    I(i64),
    S(&'a str),
}

pub fn write_row(out: &mut String, f: Format, values: &[V]) {
    out.push_str(f.row_start);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(f.sep);
        }
        match v {
            V::I(n) => {
                let _ = write!(out, "{n}");
            }
            V::S(s) => {
                out.push_str(f.quote);
                out.push_str(s);
                out.push_str(f.quote);
            }
        }
    }
    out.push_str(f.row_end);
}

/// The small tables: customers, products, inventory, each as (rows, text).
pub fn small_tables(h: &History, f: Format) -> Vec<(&'static Rows, String)> {
    let start = h.start_unix();
    let mut customers = String::new();
    for n in 1..=h.data.customers as i64 {
        let email = format!("customer{n}@example.com");
        write_row(&mut customers, f, &[V::I(n), V::S(&email), V::I(start)]);
    }
    let mut products = String::new();
    let mut inventory = String::new();
    for n in 1..=h.data.products as i64 {
        let name = format!("product {n}");
        write_row(&mut products, f, &[V::I(n), V::S(&name), V::I(h.price(n))]);
        write_row(&mut inventory, f, &[V::I(n), V::I(STOCK), V::I(start)]);
    }
    vec![(&CUSTOMERS, customers), (&PRODUCTS, products), (&INVENTORY, inventory)]
}

/// Orders `first..=last` as text for the orders, order_items and payments tables. Item ids
/// are `order id * 3 + k` (k < 3), so each batch is independent of the others.
pub fn order_batch(h: &History, f: Format, first: i64, last: i64) -> [String; 3] {
    let (mut orders, mut items, mut payments) = (String::new(), String::new(), String::new());
    for n in first..=last {
        let o = h.order(n);
        write_row(
            &mut orders,
            f,
            &[
                V::I(o.id),
                V::I(o.customer_id),
                V::S(o.status),
                V::I(o.total_cents),
                V::I(o.created_at),
                V::I(o.created_at),
            ],
        );
        for (k, (p, q, price)) in o.items.iter().enumerate() {
            let id = o.id * 3 + k as i64;
            write_row(&mut items, f, &[V::I(id), V::I(o.id), V::I(*p), V::I(*q), V::I(*price)]);
        }
        write_row(
            &mut payments,
            f,
            &[
                V::I(o.id),
                V::I(o.id),
                V::I(o.total_cents),
                V::S(o.payment_status()),
                V::I(o.created_at),
            ],
        );
    }
    [orders, items, payments]
}

/// The highest ids the seed wrote; a reset deletes every row above them.
pub fn seeded_max_ids(h: &History) -> [(&'static str, i64); 3] {
    let n = h.data.orders as i64;
    let last_item = n * 3 + h.order(n).items.len() as i64 - 1;
    [("orders", n), ("order_items", last_item), ("payments", n)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> History {
        History {
            data: DataSize {
                orders: 1000,
                customers: 100,
                products: 50,
                history_days: 10,
            },
            seed: 42,
            end_unix: 1_717_848_000,
        }
    }

    #[test]
    fn orders_are_deterministic_and_in_range() {
        let h = history();
        assert_eq!(h.order(7), h.order(7));
        for n in 1..=1000 {
            let o = h.order(n);
            assert!((1..=3).contains(&o.items.len()));
            assert!((1..=100).contains(&o.customer_id));
            assert!(
                o.items
                    .iter()
                    .all(|(p, q, _)| (1..=50).contains(p) && (1..=2).contains(q))
            );
            assert!(o.created_at > h.start_unix() && o.created_at <= h.end_unix);
            assert_eq!(o.total_cents, o.items.iter().map(|(_, q, p)| q * p).sum::<i64>());
        }
        // The last day's orders are still paid; older ones shipped or delivered; 1 in 20 cancelled.
        assert_eq!(h.order(1000).status, "paid");
        assert!((1..=1000).any(|n| h.order(n).status == "cancelled"));
    }

    #[test]
    fn the_seeded_max_ids_are_the_last_rows_written() {
        let h = history();
        let [orders, items, payments] = order_batch(&h, COPY_TEXT, 1, 1000);
        let last_id = |text: &str| {
            text.lines()
                .last()
                .unwrap()
                .split('\t')
                .next()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        };
        let max = seeded_max_ids(&h);
        assert_eq!(max[0].1, last_id(&orders));
        assert_eq!(max[1].1, last_id(&items));
        assert_eq!(max[2].1, last_id(&payments));
    }

    #[test]
    fn batches_write_copy_text_and_sql_tuples() {
        let h = history();
        let [orders, items, payments] = order_batch(&h, COPY_TEXT, 1, 2);
        assert_eq!(orders.lines().count(), 2);
        assert!(orders.starts_with("1\t"), "{orders}");
        assert_eq!(items.lines().count(), h.order(1).items.len() + h.order(2).items.len());
        assert!(
            payments
                .lines()
                .next()
                .unwrap()
                .ends_with(&format!("\t{}", h.order(1).created_at))
        );
        let [orders, ..] = order_batch(&h, SQL_TUPLES, 1, 1);
        assert!(
            orders.starts_with("(1,") && orders.ends_with("),") && orders.contains("'"),
            "{orders}"
        );
    }
}
