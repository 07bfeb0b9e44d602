{{ config(materialized='table') }}
-- depends_on: {{ source('raw_replaced', 'customers') }}

-- The customers whose facts (int_customer_facts) the batch can change: every customer that an
-- input row of their facts, before or after the batch, belongs to.
-- - a batch row of the customer (any version), and every referrer a version names (their
--   referred_customers count);
-- - the customer of a touched order (int_batch_orders, before and after a re-delivery): order
--   history, payments, refunds, lines and their products' categories;
-- - the customer of an event the batch re-sessionized (int_batch_sessionized_events: sessions
--   can merge, split or move, and a session's customer is one of its events'), and of any
--   version of a batch event (int_batch_events: where a changed, moved or removed event was).
-- A table: int_customer_facts' rebuilt rows, its inputs and its data tests all read it.

with

batch_customer_rows as (

    {{ batch_rows('shop', 'customers', ['customer_id', 'referrer_customer_id']) }}

),

customer_ids as (

    select customer_id from batch_customer_rows
    union
    select referrer_customer_id as customer_id from batch_customer_rows
    union
    select customer_id from {{ ref('int_batch_orders') }}
    union
    select customer_id from {{ ref('int_batch_sessionized_events') }}
    union
    select customer_id from {{ ref('int_batch_events') }}

),

final as (

    select customer_id
    from customer_ids
    where customer_id is not null
        -- a --full-refresh reads no batch model: empty
        and {{ has_batch() }}

)

select * from final
