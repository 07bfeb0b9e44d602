-- Map the hand-written shop exports onto six feeds of the landing contract (build_landing.py
-- runs this with the exports folder as file_search_path, then writes one CSV per view).
-- Adapt the views to your exports (docs/your-data.md). An empty field is NULL.

-- 2025-03-01 10:15:00 +0100 -> 2025-03-01T10:15:00+01:00: the offset is kept, ingest converts it
create macro iso(ts) as regexp_replace(ts, '^(\S+) (\S+) ([+-]\d\d)(\d\d)$', '\1T\2\3:\4');

create table shop_customers as
select * from read_csv('shop_customers.csv', all_varchar = true);

-- one row per line item, the order's fields on its first line only; rowid keeps the file order
create table shop_orders as
select * from read_csv('shop_orders.csv', all_varchar = true);

create table shop_reviews as
select * from read_csv('reviews.csv', all_varchar = true);

create view customers as
select
    "Customer ID" as customer_id,
    iso("Created at") as signup_ts,
    null as signup_channel,  -- not in this export
    null as referrer_customer_id,
    null as birth_year,
    null as gender,
    "Province" as region,
    "City" as city,
    iso("Updated at") as updated_ts
from shop_customers;

create view products as
select
    "Variant SKU" as product_id,  -- one product per sellable variant
    "Title" as product_name,
    "Type" as category,
    null as subcategory,
    "Vendor" as brand,
    "Variant Price" as list_price,
    iso("Updated at") as updated_ts
from read_csv('shop_products.csv', all_varchar = true);

create view order_headers as
select rowid as line, * from shop_orders
qualify row_number() over (partition by "Name" order by rowid) = 1;

create view orders as
select
    ltrim(orders."Name", '#') as order_id,
    customers."Customer ID" as customer_id,
    iso(orders."Created at") as order_ts,
    'web' as platform,
    case
        when orders."Cancelled at" is not null or orders."Financial Status" = 'voided'
            then 'cancelled'
        when orders."Financial Status" = 'refunded' then 'returned'
        when orders."Fulfillment Status" = 'fulfilled' then 'shipped'
        when orders."Financial Status" in ('paid', 'partially_refunded') then 'paid'
        else 'created'  -- pending, authorized: placed, not paid
    end as status,
    orders."Discount Code" as coupon_code,
    orders."Discount Amount" as discount_amount,
    orders."Shipping" as shipping_fee,
    null as promised_delivery_date,
    iso(orders."Fulfilled at") as shipped_ts,
    null as delivered_ts,  -- the shop does not know; a carrier export would
    iso(orders."Cancelled at") as cancelled_ts,
    iso(orders."Updated at") as updated_ts
from order_headers as orders
left join shop_customers as customers on orders."Email" = customers."Email"
order by orders.line;

create view order_items as
select
    ltrim("Name", '#') as order_id,
    row_number() over (partition by "Name" order by rowid) as line_number,
    "Lineitem sku" as product_id,
    "Lineitem quantity" as quantity,
    "Lineitem price" as unit_price
from shop_orders
order by rowid;

-- this export has no transaction id: one successful payment per paid order
create view payments as
select
    ltrim("Name", '#') || '-1' as payment_id,
    ltrim("Name", '#') as order_id,
    iso("Paid at") as attempt_ts,
    "Payment Method" as method,
    "Total" as amount,
    'success' as status
from order_headers
where "Paid at" is not null
order by line;

create view reviews as
select
    reviews.review_id,
    ltrim(reviews.order_number, '#') as order_id,
    reviews.product_sku as product_id,
    customers."Customer ID" as customer_id,
    reviews.rating,
    reviews.body as review_text,
    reviews.created_at as review_ts  -- already ISO 8601
from shop_reviews as reviews
left join shop_customers as customers on reviews.reviewer_email = customers."Email"
order by reviews.rowid;
