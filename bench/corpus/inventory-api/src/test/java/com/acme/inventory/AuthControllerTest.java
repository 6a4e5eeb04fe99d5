package com.acme.inventory;

import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.post;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.autoconfigure.web.servlet.AutoConfigureMockMvc;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.http.MediaType;
import org.springframework.test.web.servlet.MockMvc;

@SpringBootTest(properties = {
    "security.jwt.secret=test-secret-used-only-in-unit-tests",
    "spring.datasource.password="
})
@AutoConfigureMockMvc
class AuthControllerTest {

    private static final String PASSWORD = "password";
    private static final String WRONG_PASSWORD = "not-the-password";

    @Autowired
    private MockMvc mvc;

    @Test
    void loginReturnsTokenForValidCredentials() throws Exception {
        mvc.perform(post("/auth/login")
                .contentType(MediaType.APPLICATION_JSON)
                .content("{\"username\":\"alice\",\"password\":\"" + PASSWORD + "\"}"))
            .andExpect(status().isOk());
    }

    @Test
    void loginRejectsWrongPassword() throws Exception {
        mvc.perform(post("/auth/login")
                .contentType(MediaType.APPLICATION_JSON)
                .content("{\"username\":\"alice\",\"password\":\"" + WRONG_PASSWORD + "\"}"))
            .andExpect(status().isUnauthorized());
    }
}
