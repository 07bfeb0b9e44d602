{#- A batch build re-derives the customers of int_batch_customers: a customer's facts depend
    on their own rows only (customer, orders, lines, sessions) and on who names them as
    referrer, and that model lists every customer such a row belongs to, before and after. -#}
{{ config(**incremental_config(
    rebuilds="customer_id in (select customer_id from {{ ref('int_batch_customers') }})"
)) }}
{%- set batch_customers_only %}
{%- if is_incremental() %}
where customer_id in (select customer_id from {{ ref('int_batch_customers') }})
{%- endif %}
{%- endset %}
-- depends_on: {{ ref('int_batch_customers') }}

-- One row per registered customer: signup (business date, month, channel), referrer and
-- referrals made, demographics, order history over all loaded data (first order, first /
-- second / last paid order by business date, paid orders, units, paid revenue, refunds, net
-- revenue), activation, most used device and preferred category. Paid order = at least one
-- successful payment (int_order_facts). First paid order is the first in the loaded data.

with

all_customers as (

    select * from {{ ref('stg_shop__customers') }}

),

customers as (

    select * from all_customers
    {{- batch_customers_only }}

),

orders as (

    select * from {{ ref('int_order_facts') }}
    {{- batch_customers_only }}

),

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

sessions as (

    select * from {{ ref('int_sessions') }}
    {{- batch_customers_only }}

),

orders_per_customer as (

    select
        customer_id,
        min(order_date) as first_order_date,
        count(*) as orders
    from orders
    group by customer_id

),

paid_orders_ranked as (

    select
        customer_id,
        order_id,
        order_date,
        order_value,
        refunded_amount,
        units,
        row_number() over (
            partition by customer_id
            order by order_ts, order_id
        ) as paid_order_number
    from orders
    where is_paid

),

paid_per_customer as (

    select
        customer_id,
        min(order_date) as first_paid_order_date,
        max(case when paid_order_number = 2 then order_date end) as second_paid_order_date,
        max(order_date) as last_paid_order_date,
        count(*) as paid_orders,
        sum(units) as paid_units,
        sum(order_value) as paid_revenue,
        sum(refunded_amount) as refunded_amount
    from paid_orders_ranked
    group by customer_id

),

referrals as (

    -- every customer a re-derived customer referred, batch or not (a join, not an IN
    -- subquery: Spark fails to ship the semi-join of a unit test's fixture rows)
    select
        all_customers.referrer_customer_id as customer_id,
        count(*) as referred_customers
    from all_customers
    inner join customers
        on all_customers.referrer_customer_id = customers.customer_id
    group by all_customers.referrer_customer_id

),

device_sessions as (

    select
        customer_id,
        device,
        count(*) as sessions
    from sessions
    where customer_id is not null and device is not null
    group by customer_id, device

),

preferred_devices as (

    -- most sessions; ties -> device name ascending
    select
        customer_id,
        device as preferred_device,
        row_number() over (
            partition by customer_id
            order by sessions desc, device asc
        ) as device_rank
    from device_sessions

),

category_units as (

    select
        paid_orders_ranked.customer_id,
        products.category,
        sum(order_items.quantity) as units,
        sum(order_items.line_amount) as merchandise_value
    from paid_orders_ranked
    inner join order_items
        on paid_orders_ranked.order_id = order_items.order_id
    inner join products
        on order_items.product_id = products.product_id
    group by paid_orders_ranked.customer_id, products.category

),

preferred_categories as (

    -- most paid units; ties -> higher merchandise value, then category name ascending
    select
        customer_id,
        category as preferred_category,
        row_number() over (
            partition by customer_id
            order by units desc, merchandise_value desc, category asc
        ) as category_rank
    from category_units

),

final as (

    select
        customers.customer_id,
        customers.signup_ts,
        customers.signup_date,
        cast({{ dbt.date_trunc('month', 'customers.signup_date') }} as date) as signup_month,
        customers.signup_channel,
        customers.referrer_customer_id,
        customers.referrer_customer_id is not null as is_referred,
        cast(
            coalesce(referrals.referred_customers, 0) as {{ dbt.type_bigint() }}
        ) as referred_customers,
        customers.birth_year,
        customers.gender,
        customers.region,
        customers.city,
        orders_per_customer.first_order_date,
        paid_per_customer.first_paid_order_date,
        cast(
            {{ dbt.date_trunc('month', 'paid_per_customer.first_paid_order_date') }} as date
        ) as first_paid_month,
        paid_per_customer.second_paid_order_date,
        paid_per_customer.last_paid_order_date,
        cast(coalesce(orders_per_customer.orders, 0) as {{ dbt.type_bigint() }}) as orders,
        cast(coalesce(paid_per_customer.paid_orders, 0) as {{ dbt.type_bigint() }}) as paid_orders,
        cast(coalesce(paid_per_customer.paid_units, 0) as {{ dbt.type_bigint() }}) as paid_units,
        cast(coalesce(paid_per_customer.paid_revenue, 0) as {{ type_money() }}) as paid_revenue,
        cast(
            coalesce(paid_per_customer.refunded_amount, 0) as {{ type_money() }}
        ) as refunded_amount,
        cast(
            coalesce(paid_per_customer.paid_revenue, 0)
            - coalesce(paid_per_customer.refunded_amount, 0)
            as {{ type_money() }}
        ) as net_revenue,
        paid_per_customer.first_paid_order_date is not null as is_buyer,
        {{ dbt.datediff(
            'customers.signup_date', 'paid_per_customer.first_paid_order_date', 'day'
        ) }} as days_to_first_paid_order,
        coalesce(
            {{ dbt.datediff(
                'customers.signup_date', 'paid_per_customer.first_paid_order_date', 'day'
            ) }} <= {{ var('activation_days') }},
            false
        ) as is_activated,
        preferred_devices.preferred_device,
        preferred_categories.preferred_category
    from customers
    left join orders_per_customer
        on customers.customer_id = orders_per_customer.customer_id
    left join paid_per_customer
        on customers.customer_id = paid_per_customer.customer_id
    left join referrals
        on customers.customer_id = referrals.customer_id
    left join preferred_devices
        on
            customers.customer_id = preferred_devices.customer_id
            and preferred_devices.device_rank = 1
    left join preferred_categories
        on
            customers.customer_id = preferred_categories.customer_id
            and preferred_categories.category_rank = 1

)

select * from final
