# Purger-compatible Varnish configuration (tested with Varnish 7.1, Debian 12, with the
# xkey vmod of Debian's varnish-modules package: apt-get install varnish varnish-modules).
#
# Purger's presets send, with the purged domain's Host header (no port):
#   - exact URL, delete:      PURGE <path?query>
#   - exact URL, invalidate:  PURGE <path?query>   with   X-Purge-Mode: invalidate
#   - cache tag, delete:      PURGE /              with   xkey-purge: <tag>
#   - cache tag, invalidate:  PURGE /              with   xkey-purge: <tag>
#                                                  and    X-Purge-Mode: invalidate
#   - prefixes and regexes:   BAN /                with   X-Ban-Regex: ^<path regex>
#   - a whole domain:         BAN /                with   X-Ban-Regex: .*
# The cache key is the default one: Host + URL (path and query), so a purge matches exactly
# what clients fetched. Bans use the "lurker-friendly" form (obj.http.x-url / x-host), so the
# ban lurker can clean the cache in the background.
#
# "Delete" removes the object: the next request waits for the origin. "Invalidate" (soft purge)
# only expires it (TTL 0, grace kept): the next request still gets the old object at once while
# Varnish refetches it in the background, and later requests get the new one.
#
# Cache tags are read from the origin's xkey header(s) and Surrogate-Key header(s) (space-
# and/or comma-separated). Two domains may use the same tag, so each tag K of an object is
# stored as "<host>:K", and a tag purge only reaches objects of the request's Host.
#
# Answers Purger relies on:
#   - PURGE <url> (delete or invalidate): 200 "Purged" when an object was there, 404 "Not in
#     cache" when there was none (the classic answer; Purger counts it as success: nothing stale
#     is left on the node).
#   - PURGE with xkey-purge (delete or invalidate): 200 "Purged <n>" with the number of objects
#     purged, 404 "No such key" when no object of this Host has the tag (a success too), 400
#     "xkey-purge empty" when the header holds no tag.
#   - BAN: 200 "Banned", or 400 with Varnish's reason when the ban expression does not parse
#     (a pattern with a space, for one): the node is then reported failed, not silently skipped.
#   - Anything above from an address outside the purgers ACL: 403 "Forbidden".
vcl 4.1;

import std;
import purge;
import xkey;

# The origin this edge caches. Replace with your own.
backend origin {
    .host = "127.0.0.1";
    .port = "8080";
}

# Only Purger's instances may purge: fill in the addresses your Purger instances connect from.
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        if (req.http.xkey-purge) {
            call purger_purge_tags;
        }
        # Look the object up: vcl_hit and vcl_miss purge it and say whether one was there.
        return (hash);
    }
    if (req.method == "BAN") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        if (!req.http.X-Ban-Regex) {
            return (synth(400, "X-Ban-Regex missing"));
        }
        if (std.ban("obj.http.x-host == " + req.http.host + " && obj.http.x-url ~ " + req.http.X-Ban-Regex)) {
            return (synth(200, "Banned"));
        }
        return (synth(400, "Ban refused: " + std.ban_error()));
    }
}

# Tag purge: every tag of the xkey-purge header becomes "<host>:<tag>", as in
# vcl_backend_response, so only objects of this Host are reached.
sub purger_purge_tags {
    # One space between tags; whitespace and commas (xkey's separators) dropped from the host.
    set req.http.x-purge-keys = regsuball(regsuball(req.http.xkey-purge, "[\s,]+", " "), "^ | $", "");
    if (req.http.x-purge-keys == "") {
        return (synth(400, "xkey-purge empty"));
    }
    set req.http.x-purge-keys = regsuball(req.http.x-purge-keys, "[^ ]+",
        regsuball(req.http.host, "[\s,]", "") + ":\0");
    if (req.http.X-Purge-Mode ~ "(?i)^invalidate$") {
        set req.http.x-purged = xkey.softpurge(req.http.x-purge-keys);
    } else {
        set req.http.x-purged = xkey.purge(req.http.x-purge-keys);
    }
    if (req.http.x-purged == "0") {
        return (synth(404, "No such key"));
    }
    return (synth(200, "Purged " + req.http.x-purged));
}

# Exact URL purge, from vcl_hit and vcl_miss (a stale, graced copy can come as either):
# every variant of the URL is deleted, or only expired with X-Purge-Mode: invalidate.
sub purger_purge_url {
    if (req.http.X-Purge-Mode ~ "(?i)^invalidate$") {
        # TTL 0, grace and keep left as they are: served stale while refetched.
        set req.http.x-purged = purge.soft();
    } else {
        set req.http.x-purged = purge.hard();
    }
    if (req.http.x-purged == "0") {
        return (synth(404, "Not in cache"));
    }
    return (synth(200, "Purged"));
}

sub vcl_hit {
    if (req.method == "PURGE") {
        call purger_purge_url;
    }
}

sub vcl_miss {
    if (req.method == "PURGE") {
        call purger_purge_url;
    }
}

sub vcl_backend_response {
    # Remember host and URL on the object, for bans.
    set beresp.http.x-url = bereq.url;
    set beresp.http.x-host = bereq.http.host;

    # Grace: how long an invalidated (or expired) object is still served while it is refetched.
    # At least 10s, whatever the origin's Cache-Control says (a longer stale-while-revalidate
    # is kept).
    if (beresp.grace < 10s) {
        set beresp.grace = 10s;
    }

    # Cache tags: all xkey and Surrogate-Key headers, each tag K stored as "<host>:K" in the
    # one xkey header the xkey vmod indexes.
    if (beresp.http.xkey || beresp.http.Surrogate-Key) {
        std.collect(beresp.http.xkey, " ");
        std.collect(beresp.http.Surrogate-Key, " ");
        set beresp.http.xkey = regsuball(regsuball(beresp.http.xkey + " " + beresp.http.Surrogate-Key,
            "[\s,]+", " "), "^ | $", "");
        if (beresp.http.xkey == "") {
            unset beresp.http.xkey;
        } else {
            set beresp.http.xkey = regsuball(beresp.http.xkey, "[^ ]+",
                regsuball(bereq.http.host, "[\s,]", "") + ":\0");
        }
    }
}

sub vcl_deliver {
    # Internal headers, and the tags (clients never see them, as with Fastly).
    unset resp.http.x-url;
    unset resp.http.x-host;
    unset resp.http.xkey;
    unset resp.http.Surrogate-Key;
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
