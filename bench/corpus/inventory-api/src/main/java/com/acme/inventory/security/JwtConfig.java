package com.acme.inventory.security;

import io.jsonwebtoken.security.Keys;
import java.nio.charset.StandardCharsets;
import javax.crypto.SecretKey;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

@Configuration
public class JwtConfig {

    /** Used only when security.jwt.secret is not set (local runs). */
    private static final String DEFAULT_SIGNING_KEY = "@@chars:inventory-default-signing:44@@";

    private static final String TOKEN_HEADER = "Authorization";
    private static final String TOKEN_PREFIX = "Bearer ";

    @Value("${security.jwt.secret:}")
    private String configuredSecret;

    @Bean
    public SecretKey jwtSigningKey() {
        String secret = configuredSecret == null || configuredSecret.isBlank() ? DEFAULT_SIGNING_KEY : configuredSecret;
        return Keys.hmacShaKeyFor(secret.getBytes(StandardCharsets.UTF_8));
    }

    public static String headerName() {
        return TOKEN_HEADER;
    }

    public static String stripPrefix(String header) {
        return header.startsWith(TOKEN_PREFIX) ? header.substring(TOKEN_PREFIX.length()) : header;
    }
}
