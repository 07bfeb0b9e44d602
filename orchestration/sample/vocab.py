"""Vocabularies and mixes of the sample shop: channels, sources, devices, places, catalog, texts.

Kept apart from the generator logic so that the shapes of the data can be read (and tuned) in
one place. Probabilities need not sum to one; they are normalised where they are used.
"""

from __future__ import annotations

import numpy as np

# --- channel groups (the vocabulary of the channel grouping and of signup_channel) ---------------
CHANNELS = (
    "paid_search",
    "organic_search",
    "paid_social",
    "social",
    "email",
    "sms",
    "affiliate",
    "referral",
    "direct",
    "other",
)
CH = {name: i for i, name in enumerate(CHANNELS)}
# Channels bought through campaigns: their sessions carry utm_campaign and they have spend.
PAID_CHANNELS = ("paid_search", "paid_social", "email", "sms", "affiliate")

# Session channel mixes: first visits lean on acquisition channels, returning visits on direct
# and CRM, app sessions are mostly direct (app icon) or push/SMS.
CHANNEL_MIX_NEW = np.array([0.17, 0.20, 0.15, 0.09, 0.02, 0.01, 0.07, 0.10, 0.17, 0.02])
CHANNEL_MIX_RETURNING = np.array([0.10, 0.13, 0.07, 0.06, 0.10, 0.05, 0.04, 0.05, 0.38, 0.02])
CHANNEL_MIX_APP = np.array([0.03, 0.02, 0.08, 0.05, 0.04, 0.10, 0.02, 0.02, 0.62, 0.02])

# Traffic sources: (channel, utm_source, utm_medium, referrer, weight within the channel).
# The mix is what a channel-grouping rule set has to untangle: cpc on a social network is paid
# social, a search engine with medium organic is organic search, a bare social referrer is social.
SOURCES: tuple[tuple[str, str | None, str | None, str | None, float], ...] = (
    ("paid_search", "baidu", "cpc", "https://www.baidu.com/", 0.6),
    ("paid_search", "google", "cpc", "https://www.google.com/", 0.4),
    ("organic_search", "baidu", "organic", "https://www.baidu.com/", 0.65),
    ("organic_search", "google", "organic", "https://www.google.com/", 0.35),
    ("paid_social", "wechat", "paid_social", "https://weixin.qq.com/", 0.35),
    ("paid_social", "douyin", "paid_social", "https://www.douyin.com/", 0.30),
    ("paid_social", "douyin", "cpc", "https://www.douyin.com/", 0.15),
    ("paid_social", "facebook", "cpc", "https://www.facebook.com/", 0.10),
    ("paid_social", "facebook", "paid_social", "https://www.facebook.com/", 0.10),
    ("social", None, None, "https://weibo.com/", 0.45),
    ("social", None, None, "https://www.xiaohongshu.com/explore", 0.55),
    ("email", "newsletter", "email", None, 1.0),
    ("sms", "sms", "sms", None, 1.0),
    ("affiliate", "smzdm", "affiliate", "https://www.smzdm.com/", 0.5),
    ("affiliate", "fanli", "affiliate", "https://www.fanli.com/", 0.3),
    ("affiliate", "linkstars", "affiliate", None, 0.2),
    ("referral", None, None, "https://www.zhihu.com/question/", 0.4),
    ("referral", None, None, "https://www.douban.com/group/", 0.25),
    ("referral", None, None, "https://news.qq.com/", 0.2),
    ("referral", None, None, "https://www.gadget-reviews.cn/best-of", 0.15),
    ("direct", None, None, None, 1.0),
    ("other", "store_qr", "qr_code", None, 0.6),
    ("other", "partner_app", "app_link", None, 0.4),
)
SOURCE_CHANNEL = np.array([CH[s[0]] for s in SOURCES])
SOURCE_UTM_SOURCE = tuple(s[1] for s in SOURCES)
SOURCE_UTM_MEDIUM = tuple(s[2] for s in SOURCES)
SOURCE_REFERRER = tuple(s[3] for s in SOURCES)
SOURCE_WEIGHT = np.array([s[4] for s in SOURCES])

# --- devices -------------------------------------------------------------------------------------
DEVICE_MIX = np.array(
    [0.44, 0.22, 0.06, 0.28]
)  # order of contract.DEVICES: mobile desktop tablet app
DEVICE_VISIT_WEIGHT = np.array([1.0, 0.9, 0.8, 1.8])  # app users come back more often
DEVICE_CONVERSION = np.array([0.8, 1.2, 1.0, 1.4])
APP_DEVICE = 3
CHANNEL_CONVERSION = np.array([1.3, 1.1, 0.7, 0.6, 1.4, 1.1, 1.0, 0.8, 1.2, 0.8])

# --- session depth (non-purchase sessions): bounce, browse, product, cart, checkout -------------
DEPTH_BASE = np.array([0.38, 0.22, 0.25, 0.09, 0.06])
CHANNEL_BOUNCE = np.array([0.36, 0.34, 0.50, 0.48, 0.30, 0.35, 0.45, 0.45, 0.30, 0.40])

# Landing page type per channel, in contract.PAGE_TYPES order:
# home, category, search, product, cart, checkout, other.
LANDING_MIX = np.array(
    [
        [0.15, 0.25, 0.15, 0.45, 0.0, 0.0, 0.0],  # paid_search
        [0.25, 0.30, 0.05, 0.35, 0.0, 0.0, 0.05],  # organic_search
        [0.15, 0.15, 0.0, 0.65, 0.0, 0.0, 0.05],  # paid_social
        [0.20, 0.15, 0.0, 0.55, 0.0, 0.0, 0.10],  # social
        [0.30, 0.35, 0.0, 0.30, 0.0, 0.0, 0.05],  # email
        [0.40, 0.30, 0.0, 0.25, 0.0, 0.0, 0.05],  # sms
        [0.10, 0.20, 0.0, 0.70, 0.0, 0.0, 0.0],  # affiliate
        [0.35, 0.20, 0.0, 0.35, 0.0, 0.0, 0.10],  # referral
        [0.70, 0.10, 0.05, 0.10, 0.03, 0.0, 0.02],  # direct
        [0.60, 0.0, 0.0, 0.30, 0.0, 0.0, 0.10],  # other
    ]
)
BROWSE_PAGE_MIX = np.array([0.25, 0.45, 0.20, 0.0, 0.0, 0.0, 0.10])

# Impression placements and their click-through rates.
PLACEMENTS = ("home_banner", "search_results", "recommendation", "cart_upsell")
PLACEMENT_SHARE = np.array([0.35, 0.30, 0.28, 0.07])
PLACEMENT_CTR = np.array([0.03, 0.14, 0.07, 0.05])
PLACEMENT_HAS_PRODUCT = np.array([False, True, True, True])

# Local hour-of-day profile (Asia/Shanghai): quiet nights, lunch bump, evening peak.
HOUR_WEIGHTS = np.array(
    [
        3.0,
        1.8,
        1.0,
        0.6,
        0.5,
        0.6,
        1.2,
        2.2,
        3.2,
        4.0,
        4.5,
        4.8,
        5.2,
        4.8,
        4.4,
        4.4,
        4.6,
        4.8,
        5.0,
        6.0,
        7.2,
        7.8,
        6.8,
        4.8,
    ]
)
# Weekday factors, Monday first: weekends are busier.
WEEKDAY_SESSIONS = np.array([0.96, 0.94, 0.95, 0.97, 1.01, 1.10, 1.07])
WEEKDAY_CONVERSION = np.array([0.98, 0.98, 0.99, 0.99, 1.00, 1.04, 1.03])
WEEKDAY_MARKETPLACE = np.array([0.95, 0.94, 0.95, 0.97, 1.02, 1.10, 1.08])

# --- shop ----------------------------------------------------------------------------------------
PLATFORMS = ("app", "web", "mini_program", "marketplace_tmall", "marketplace_jd")
PAYMENT_METHODS = ("alipay", "wechat_pay", "card", "cod")
# Payment method mix per platform (rows in PLATFORMS order).
METHOD_MIX = np.array(
    [
        [0.50, 0.38, 0.09, 0.03],
        [0.52, 0.25, 0.19, 0.04],
        [0.05, 0.93, 0.02, 0.00],
        [0.92, 0.00, 0.08, 0.00],
        [0.10, 0.50, 0.30, 0.10],
    ]
)
ITEMS_MIX = np.array([0.25, 0.30, 0.22, 0.13, 0.10])  # 1..5 lines, mean about 2.5
QUANTITY_MIX = np.array([0.80, 0.14, 0.04, 0.015, 0.005])  # 1..5 units
PROMO_FACTOR = np.array([1.00, 0.95, 0.90, 0.85, 0.80])
PROMO_MIX = np.array([0.35, 0.15, 0.20, 0.20, 0.10])
# Coupons: (code, percent off, cap in CNY, minimum spend in CNY).
COUPONS = (
    ("WELCOME10", 0.10, 30.0, 0.0),
    ("SAVE20", 0.20, 20.0, 99.0),
    ("VIP15", 0.15, 150.0, 199.0),
    ("FLASH50", 0.50, 50.0, 299.0),
    ("MEMBER5", 0.05, 100.0, 0.0),
)
COUPON_SHARE = 0.20
# Fulfilment: about 10% of deliveries arrive after the promised date.
SHIP_DAYS_MIX = np.array([0.0, 0.85, 0.13, 0.02])  # days after the order day the parcel leaves
TRANSIT_DAYS_MIX = np.array([0.0, 0.55, 0.30, 0.10, 0.03, 0.015, 0.005])
PROMISE_DAYS_MIX = np.array([0.0, 0.0, 0.03, 0.30, 0.45, 0.22])  # promised = order day + 2..5
REFUND_REASONS_PARTIAL = ("price_protection", "missing_item", "damaged_item", "late_delivery")
RETURN_REASONS = ("size_issue", "not_as_described", "damaged", "changed_mind", "late_delivery")

# --- places (province -> cities, pinyin; weight roughly online shoppers) -----------------------
REGIONS: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("Guangdong", 14.0, ("Guangzhou", "Shenzhen", "Dongguan", "Foshan")),
    ("Zhejiang", 9.0, ("Hangzhou", "Ningbo", "Wenzhou")),
    ("Jiangsu", 9.0, ("Nanjing", "Suzhou", "Wuxi")),
    ("Shanghai", 7.0, ("Shanghai",)),
    ("Beijing", 6.5, ("Beijing",)),
    ("Shandong", 6.0, ("Jinan", "Qingdao", "Yantai")),
    ("Sichuan", 5.0, ("Chengdu", "Mianyang")),
    ("Fujian", 4.5, ("Fuzhou", "Xiamen", "Quanzhou")),
    ("Henan", 4.5, ("Zhengzhou", "Luoyang")),
    ("Hubei", 4.0, ("Wuhan", "Yichang")),
    ("Hunan", 3.5, ("Changsha", "Zhuzhou")),
    ("Anhui", 3.0, ("Hefei", "Wuhu")),
    ("Hebei", 3.0, ("Shijiazhuang", "Baoding")),
    ("Chongqing", 2.8, ("Chongqing",)),
    ("Shaanxi", 2.5, ("Xian", "Baoji")),
    ("Liaoning", 2.5, ("Shenyang", "Dalian")),
    ("Tianjin", 2.0, ("Tianjin",)),
    ("Yunnan", 1.8, ("Kunming", "Dali")),
    ("Guangxi", 1.8, ("Nanning", "Guilin")),
    ("Heilongjiang", 1.5, ("Harbin", "Daqing")),
)
GENDERS = ("female", "male")

# --- catalog -------------------------------------------------------------------------------------
# category -> (share of products, (min, max) list price in CNY, subcategories, brands, nouns)
CATEGORIES: tuple[tuple[str, float, tuple[float, float], tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "apparel",
        0.22,
        (49.0, 899.0),
        ("tops", "dresses", "pants", "outerwear"),
        ("Lanxi", "Urban Pine", "Moyu", "Northfold"),
    ),
    (
        "shoes",
        0.10,
        (129.0, 1299.0),
        ("sneakers", "boots", "sandals"),
        ("Stride Lab", "Feiyue Co", "Kite Run"),
    ),
    (
        "beauty",
        0.16,
        (39.0, 899.0),
        ("skincare", "makeup", "fragrance"),
        ("Yunxi", "Petal Nine", "Qingshui", "Lumi"),
    ),
    (
        "electronics",
        0.12,
        (59.0, 5999.0),
        ("headphones", "smart_home", "phone_accessories", "wearables"),
        ("Voltra", "Xinghe", "Aurobit"),
    ),
    (
        "home",
        0.14,
        (19.0, 1599.0),
        ("kitchen", "bedding", "decor", "storage"),
        ("Hearth & Co", "Mujia", "Casa Lin"),
    ),
    (
        "food",
        0.12,
        (9.9, 299.0),
        ("snacks", "tea", "coffee", "health"),
        ("Shanzhen", "Three Peaks", "Chaxiang"),
    ),
    (
        "baby",
        0.07,
        (19.0, 699.0),
        ("diapers", "toys", "feeding"),
        ("Little Tao", "Bao Bei"),
    ),
    (
        "sports",
        0.07,
        (29.0, 2199.0),
        ("fitness", "outdoor", "cycling"),
        ("Peakline", "Tiantu", "Velo Jia"),
    ),
)
# Product-name nouns per subcategory: some English, some Chinese, as in a real catalog.
SUBCATEGORY_NOUNS = {
    "tops": ("Cotton Tee", "Linen Shirt", "针织开衫"),
    "dresses": ("Midi Dress", "Slip Dress", "连衣裙"),
    "pants": ("Wide-leg Pants", "Denim Jeans", "休闲裤"),
    "outerwear": ("Down Jacket", "Trench Coat", "羽绒服"),
    "sneakers": ("Runner", "Court Sneaker", "跑步鞋"),
    "boots": ("Chelsea Boot", "Hiking Boot"),
    "sandals": ("Slide Sandal", "凉鞋"),
    "skincare": ("Hydrating Serum", "Face Cream", "补水面霜", "Sunscreen SPF50"),
    "makeup": ("Matte Lipstick", "Cushion Foundation", "眼影盘"),
    "fragrance": ("Eau de Parfum", "香水"),
    "headphones": ("ANC Earbuds", "Over-ear Headphones", "蓝牙耳机"),
    "smart_home": ("Smart Plug", "Robot Vacuum", "智能音箱"),
    "phone_accessories": ("Fast Charger", "Power Bank", "手机壳"),
    "wearables": ("Fitness Band", "Smartwatch"),
    "kitchen": ("Rice Cooker", "Chef Knife", "不粘锅"),
    "bedding": ("Silk Pillowcase", "Duvet Set", "四件套"),
    "decor": ("Ceramic Vase", "Table Lamp"),
    "storage": ("Storage Box", "Shoe Rack", "收纳箱"),
    "snacks": ("Mixed Nuts", "Dried Mango", "坚果礼盒"),
    "tea": ("Longjing Green Tea", "Pu-erh Cake", "铁观音"),
    "coffee": ("Drip Coffee Bags", "Espresso Beans"),
    "health": ("Vitamin C", "Probiotics", "蛋白粉"),
    "diapers": ("Ultra-thin Diapers", "纸尿裤"),
    "toys": ("Building Blocks", "Plush Panda", "积木"),
    "feeding": ("Glass Bottle", "Silicone Bib"),
    "fitness": ("Yoga Mat", "Adjustable Dumbbell", "瑜伽垫"),
    "outdoor": ("Camping Tent", "Trekking Poles"),
    "cycling": ("Bike Helmet", "Cycling Jersey"),
}

# --- feedback texts ------------------------------------------------------------------------------
# Short review texts by mood; some carry commas, quotes, newlines and Chinese on purpose so that
# the CSV/JSON readers are exercised.
REVIEW_TEXTS_GOOD = (
    "Great quality, fast delivery!",
    "非常好，物流很快",
    "Exactly as described. Would buy again.",
    'Five stars, "perfect" fit',
    "质量很好\n会回购的",
    "Good value for money",
    "包装很精美，送人很合适",
    "Works as expected, thanks",
    "Love it, my second order already",
    "很满意, 客服态度也好",
)
REVIEW_TEXTS_MIXED = (
    "OK, but the colour is a bit different",
    "一般般吧",
    "Decent, packaging could be better",
    'Not bad; the "premium" box was dented',
    "还行，就是发货有点慢",
)
REVIEW_TEXTS_BAD = (
    "Arrived late, box damaged",
    "太慢了，等了一个星期",
    'Not as described, "premium" my foot',
    "Poor quality.\nReturned it.",
    "差评，客服不回复",
    "Late delivery and nobody answered my messages",
    "质量太差了\n再也不买了",
)
SURVEY_COMMENTS_GOOD = (
    "Fast delivery",
    "App is easy to use",
    "服务很好",
    "Good prices, friendly service",
)
SURVEY_COMMENTS_BAD = (
    "Delivery was late",
    "Customer service too slow",
    "退款太慢",
    "Item was damaged, had to return it",
    'Promised "next day", it took a week',
    "客服回复太慢\n问题也没解决",
)
TICKET_CATEGORIES = ("delivery", "refund", "product_quality", "payment", "account", "other")
TICKET_CHANNELS = ("chat", "email", "phone")
TICKET_CHANNEL_MIX = np.array([0.55, 0.20, 0.25])
# Median minutes to first response per ticket channel.
FIRST_RESPONSE_MEDIAN_MIN = np.array([6.0, 240.0, 2.0])

# Search queries (events.search_query): normalised terms and their shares of searches. The first
# is the top term; "gift card" (the shop sells none) is searched often and never bought after.
SEARCH_TERMS = (
    "running shoes",
    "gift card",
    "face cream",
    "连衣裙",
    "wireless earbuds",
    "down jacket",
    "sunscreen",
    "robot vacuum",
    "denim jeans",
    "lipstick",
    "跑步鞋",
    "smart plug",
)
SEARCH_TERM_SHARE = np.array([28, 14, 8, 7, 7, 6, 6, 5, 5, 5, 5, 4], dtype=np.float64)
SEARCH_TOP, SEARCH_ZERO_CONVERSION = 0, 1
# How people type them: as is, Title Case, upper case, a leading or a trailing space.
SEARCH_VARIANT_MIX = np.array([0.55, 0.20, 0.05, 0.10, 0.10])

# Marketplace and untracked orders by local hour: the marketplaces' 21:00 evening deals make the
# purchase peak, and nothing is ordered there in the 04:00 maintenance hour.
ORDER_HOUR_WEIGHTS = HOUR_WEIGHTS * np.where(np.arange(24) == 21, 2.0, 1.0)
ORDER_HOUR_WEIGHTS[4] = 0.0
