package com.acme.inventory.storage;

import java.io.InputStream;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;

public class S3ReportStore {

    private static final String BUCKET = "acme-inventory-reports-eu";
    // Service user "inventory-reports" (IAM), write-only on the bucket above.
    private static final String ACCESS_KEY_ID = "@@akia:inventory-reports@@";
    private static final String SECRET_ACCESS_KEY = "@@awssecret:inventory-reports@@";

    private final S3Client s3;

    public S3ReportStore() {
        this.s3 = S3Client.builder()
                .region(Region.EU_WEST_1)
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(ACCESS_KEY_ID, SECRET_ACCESS_KEY)))
                .build();
    }

    public void upload(String key, InputStream body, long length) {
        PutObjectRequest request = PutObjectRequest.builder()
                .bucket(BUCKET)
                .key("reports/" + key)
                .contentType("text/csv")
                .build();
        s3.putObject(request, RequestBody.fromInputStream(body, length));
    }
}
